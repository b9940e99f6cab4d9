# The smolagents sdist's tests import `.utils.markers` relatively but ship no package files: this shim
# (ours, not smolagents') makes tests/ a package. See ../../README.md.
