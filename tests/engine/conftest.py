"""Hypothesis profile for mutation runs (`make mutate`): no per-example deadline, because a
mutant runs on a machine already busy with other mutants, and a slow example is not a kill."""

from hypothesis import settings

settings.register_profile("mutation", deadline=None)
