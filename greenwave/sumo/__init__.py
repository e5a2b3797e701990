"""SUMO adapter: greenwave scenarios to and from Eclipse SUMO, and greenwave's advice inside it.

Installed with the ``[sumo]`` extra (SUMO's binaries, sumolib, libsumo, traci); the core
(``greenwave/*.py``) and the simulator (``greenwave.sim``) never import this package.
"""
