"""`python -m otel_agent_instrumentation doctor [--json]` (see doctor.py)."""

import sys

from .doctor import main

sys.exit(main())
