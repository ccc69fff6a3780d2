"""Set before numpy is first imported (cli/__init__.py imports this module first).

numpy backs every large array with transparent huge pages (madvise) on Linux. A `segment`
run allocates and frees many large temporaries, and the kernel zeroes each fresh huge page
whole (2 MB) when it is first touched, compacting memory to find one. On the 1M-customer
density bench (bench/bench_density.py, this 2-core machine) that was 2-3 CPU s of system
time (perf: clear_page_erms under do_huge_pmd_anonymous_page), and ordinary 4 KB pages made
the run 0.5-1 s faster. NUMPY_MADVISE_HUGEPAGE is numpy's own switch, read when numpy is
first imported; a value the user set wins.
"""

import os

os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")
