"""Fixed support-ticket texts: one set checks parity, a separate set calibrates quantization
(so the parity figures are not measured on the texts the quantizer was tuned on)."""

PARITY_TEXTS: tuple[str, ...] = (
    "Hi team, since this morning I cannot log in to the customer portal. Every time I enter my password it says "
    "'invalid credentials' even though I reset it twice. This is blocking our whole billing department.",
    "Our invoice for October shows a charge of $499 for the Enterprise plan but we downgraded to Pro on "
    "September 28th. Please refund the difference and confirm the plan change.",
    "The mobile app crashes immediately on launch after the latest update (version 4.2.1) on my Samsung Galaxy "
    "S23. I've tried reinstalling and clearing the cache without any luck.",
    "Can you tell me how to export all of my project data to CSV? I need it for an audit next week and I can't "
    "find the option in the settings menu.",
    "Thanks for the quick fix yesterday, everything works great now! Really appreciate the support team's help.",
    "URGENT: production is down for all our users, the API returns 503 on every request since 09:14 UTC. "
    "We are losing orders every minute.",
    "I was charged twice for the same order #A-10293. Please cancel one of the payments.",
    "How do I add a new team member and give them read-only access to the dashboards?",
    "Your latest release deleted half of our saved filters. This is the third time this quarter something "
    "breaks after an update and frankly we are considering other vendors.",
    "hi",
    "Hello support, since the maintenance window last Thursday our scheduled report exports have been failing. "
    "Every morning at 6am the system should email a PDF summary of the previous day's sales to twelve "
    "recipients, but for four days only three people received it, and the attachment is often empty or "
    "corrupted. The recipient list in the admin panel looks correct and our spam filters are not blocking the "
    "messages. Triggering the export manually worked once, then failed with a timeout error. Our regional "
    "managers rely on these numbers for planning. Could you check the logs on your side, tell us whether this "
    "is a known issue, and give us an estimated time for a fix? Thanks.",
    "The password reset email never arrives; I checked spam. Can you resend it or reset the account manually?",
)

CALIBRATION_TEXTS: tuple[str, ...] = (
    "My order has not arrived yet, where is it?",
    "Please cancel my subscription effective immediately.",
    "The dashboard is very slow to load since yesterday.",
    "I need an invoice with our VAT number on it.",
    "ok",
    "thanks!",
    "Error 500 when uploading a file larger than 10MB.",
    "Can I change the email address on my account?",
    "Your service is terrible and I want a refund now.",
    "Love the new feature, great work!",
    "The integration with Slack stopped sending notifications.",
    "how do i reset 2fa",
    "We were billed for 25 seats but only 18 people use the product. Can you adjust the next invoice and "
    "credit the difference? Our finance team needs the corrected document before the end of the month.",
    "Since the update the search returns no results for any query that contains a hyphen, for example "
    "'follow-up'. This worked fine last week and our agents depend on it all day.",
)
