"""Reusable pieces of the hands-on RLHF course.

Each module holds one concept a notebook teaches and a later notebook reuses:
``profiles`` and ``runtime`` (setup), ``exercises`` (the exercise checker), and one module per
algorithm as the course builds them.
"""

from .exercises import check, check_value
from .profiles import PROFILES, Profile, UnknownProfileError, get_profile
from .runtime import CourseSetup, setup

__all__ = [
    "PROFILES",
    "CourseSetup",
    "Profile",
    "UnknownProfileError",
    "check",
    "check_value",
    "get_profile",
    "setup",
]
