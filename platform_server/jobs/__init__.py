"""Jobs: persisted state (`store`), priority queues and limits (`scheduler`), running a DAG (`runner`)."""
