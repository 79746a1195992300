"""Control adapters: they turn messages into validated settings changes and commands, nothing else."""
