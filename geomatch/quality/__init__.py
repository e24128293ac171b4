"""The trail-quality stage, between validation and matching: each accepted fix gets a quality flag and a reason
(see :mod:`geomatch.quality.flags`)."""
from geomatch.quality.flags import (FALLBACK_SOURCES, QUALITY_CLASSES, QualityRule, assess_trails, flag_quality,
                                    joined_steps, least_speed, quality_codes, with_quality)

__all__ = ["FALLBACK_SOURCES", "QUALITY_CLASSES", "QualityRule", "assess_trails", "flag_quality", "joined_steps",
           "least_speed", "quality_codes", "with_quality"]
