"""The settings file: its models and validation, ``${ENV}`` values, durations, key lines, and editing it."""
