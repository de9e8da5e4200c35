from runtime.session import available_cpus, cgroup_cpu_limit


def cgroup(tmp_path, text):
    (tmp_path / "cpu.max").write_text(text)
    return tmp_path


def test_quota_sets_the_thread_count_not_the_host(tmp_path):
    host = set(range(64))
    assert available_cpus(cgroup(tmp_path, "200000 100000\n"), affinity=host) == 2


def test_fractional_quota_rounds_up(tmp_path):
    assert cgroup_cpu_limit(cgroup(tmp_path, "150000 100000")) == 1.5
    assert available_cpus(tmp_path, affinity=set(range(8))) == 2


def test_small_quota_is_at_least_one_thread(tmp_path):
    assert available_cpus(cgroup(tmp_path, "10000 100000"), affinity=set(range(8))) == 1


def test_unlimited_quota_uses_affinity(tmp_path):
    assert cgroup_cpu_limit(cgroup(tmp_path, "max 100000")) is None
    assert available_cpus(tmp_path, affinity={0, 3, 5}) == 3


def test_affinity_caps_a_generous_quota(tmp_path):
    assert available_cpus(cgroup(tmp_path, "800000 100000"), affinity={0, 1}) == 2


def test_cgroup_v1_files(tmp_path):
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("300000")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000")
    assert available_cpus(tmp_path, affinity=set(range(16))) == 3
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1")
    assert available_cpus(tmp_path, affinity=set(range(16))) == 16


def test_no_cgroup_at_all(tmp_path):
    assert available_cpus(tmp_path / "nowhere", affinity={0}) == 1
