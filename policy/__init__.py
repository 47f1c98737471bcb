"""The recstack-security Pulumi policy pack: rules in ``rules``, the pack in ``__main__``,
and ``check.violations`` for the stack's mock tests."""
