"""Matching trails against crimes: the parameters (:mod:`.config`), the matcher (:mod:`.matcher`) and its
compiled kernels (:mod:`._kernels`), and the hits tables it writes (:mod:`.output`)."""
