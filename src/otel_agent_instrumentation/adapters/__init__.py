"""Framework adapters. Each module imports its framework lazily (inside `targets()`)."""
