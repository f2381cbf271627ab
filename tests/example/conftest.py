"""Two real daemons with red and blue PipeWire cameras (tests/lib/callenv.py)."""
from callenv import daemons, pipewire, server  # noqa: F401 (fixtures)
