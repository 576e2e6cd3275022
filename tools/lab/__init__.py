"""The lab: private ZooKeeper, Open vSwitch and agent processes for tests,
benchmarks and the sandbox. Every process is started here, remembered by PID,
and ended by PID; nothing is left behind."""
