"""The HospOps command line and desktop application: the only package that imports Qt."""
