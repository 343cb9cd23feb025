"""The machine kinds a scenario may use, by the name it gives them (``kind: cnc``).

>>> sorted(KIND_MODELS)
['cnc', 'coil_feed', 'furnace', 'inspection', 'packer', 'press', 'rotating']
>>> [tag.name for tag in KIND_MODELS["cnc"].TAGS][:2]
['air_temp_c', 'process_temp_c']
"""

from __future__ import annotations

from andon.sim.furnace import Furnace
from andon.sim.milling import Cnc
from andon.sim.packing import Packer
from andon.sim.physics import Kind
from andon.sim.rotating import Rotating
from andon.sim.stamping import CoilFeed, Inspection, Press

__all__ = ["KIND_MODELS"]

KIND_MODELS: dict[str, type[Kind]] = {
    "cnc": Cnc,
    "coil_feed": CoilFeed,
    "furnace": Furnace,
    "inspection": Inspection,
    "packer": Packer,
    "press": Press,
    "rotating": Rotating,
}
