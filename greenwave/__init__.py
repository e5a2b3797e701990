"""greenwave: green-light optimal speed advisory (GLOSA).

The vectorised core: signal plans (:mod:`greenwave.timing`), live SPaT
(:mod:`greenwave.spat`), speed bands (:mod:`greenwave.bands`), the network
(:mod:`greenwave.network`) and the advisory call shared by the API and the simulator
(:mod:`greenwave.advice`).
"""

__version__ = "0.1.0"
