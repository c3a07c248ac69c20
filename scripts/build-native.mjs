// Placeholder until the native backend lands: nothing to build yet.
process.exit(0);
