"""Daily and monthly reports for the province's leaders, in Vietnamese (docs/reports.md).

``figures`` (pure: the numbers of each section) ← ``gather`` (reads the store and the alerting
records) → ``sections`` (pure: Vietnamese tables) → ``pdf`` / ``xlsx`` / ``plots`` (rendering)
→ ``archive`` (the files the API serves) ← ``schedule`` (07:00 daily, the 1st monthly, sent by
email) and ``quantrac report`` (``cli``).
"""
