"""The pose sampler: interacting two-hand MANO poses, optimized against penetration and the joint limits."""
