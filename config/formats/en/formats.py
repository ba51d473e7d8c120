"""Dates as the CRM writes them everywhere: "4 Dec 2026" and "4 Dec 2026, 14:28" (24-hour),
the form its own pages use, instead of Django's American "Dec. 4, 2026, 2:28 p.m." beside
them. Short forms are ISO ("2026-12-04"), for tables and exports. Input keeps Django's."""

DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
TIME_FORMAT = "H:i"
MONTH_DAY_FORMAT = "j F"
YEAR_MONTH_FORMAT = "F Y"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
FIRST_DAY_OF_WEEK = 1  # Monday, as the dashboard's weeks
