"""The HospOps command line and desktop application: the only package that imports Qt."""
import os

# One BLAS thread, set before numpy loads (it is read once): on a 2-core workstation OpenBLAS's own threads
# fought each other and the app's worker threads, making the count regression's matrix products up to 40x
# slower (a 35,000 x 58 product: 4.2 s against 0.1 s). Users may still override it in their environment.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
