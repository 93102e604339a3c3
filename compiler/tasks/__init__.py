"""Infrastructure shared by sweeps and Composition-of-Experts fleets: running independent tasks
in-process or on Ray (`backends`), and writing cache files so that readers never see half of one
(`files`). It sits below both, so neither imports the other for it."""
