import os, cProfile, pstats
os.environ["DATABASE_URL"]="postgres://postgres@127.0.0.1:5432/crm_bench_loyalty"
os.environ["DJANGO_SETTINGS_MODULE"]="config.settings.local"
import django; django.setup()
from loyalty.tiers import tiers_evaluate_range
cProfile.run("tiers_evaluate_range(1, 25000)", "/tmp/prof.out")
pstats.Stats("/tmp/prof.out").sort_stats("cumulative").print_stats(22)
