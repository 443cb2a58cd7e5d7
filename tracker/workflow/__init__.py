"""The leader's response: checklist, takedown ladder, deadline clocks, letters, re-checks — rules as data in rules/."""
