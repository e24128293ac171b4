"""What ``geomatch`` and ``vvol`` share: errors, row quarantine, reading tables, times, CRSs, point locations,
safe output of input text and run manifests.

A contract checked by ``tests/test_layering.py``: nothing here imports another part of the project.
"""
