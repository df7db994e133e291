"""The pieces of bench/run: measuring, the two tools, the workloads, the report.

bench/run compares git-exp with DVC on identical workloads; these modules
are its parts, importable on their own so a per-area bench can reuse them:

    measure     time and peak memory of one command; steps run alternately
    tools       the two tools, each installed into its own virtual environment
    projects    repositories, pipelines, synthetic experiments and data to work on
    workloads   the rows of the table: what is run, by whom, in which order
    report      the machine, the versions and the Markdown table
"""
