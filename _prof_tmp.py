import cProfile, pstats, time
from pathlib import Path
from geomatch.ingest.trails import load_trails
from geomatch.ingest.crimes import load_crimes
from geomatch.match.config import MatchConfig
from geomatch.match.matcher import match_hits
from geomatch.quality.flags import flag_quality
from geomatch.scoring import Scorer
world = Path("bench_out/world_200x30")
config = MatchConfig()
trails = load_trails(world / "trails.parquet")
crimes = load_crimes(world / "crimes.csv", target_crs=trails.crs, naive_tz=config.naive_tz, max_window_s=config.max_window_s)
fixes = flag_quality(trails.accepted, config.quality_rule)
hits = match_hits(fixes, crimes.accepted, config)
Scorer().score(hits.iloc[:50], fixes, crimes.accepted, config)
pr = cProfile.Profile(); pr.enable()
Scorer().score(hits, fixes, crimes.accepted, config)
pr.disable()
pstats.Stats(pr).sort_stats("cumulative").print_stats(30)
