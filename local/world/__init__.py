"""The local AWS world: moto plus what it lacks for mec's pipeline to run end to end.

- lambda_host: Lambda invocations reach the real step binaries through the Lambda Runtime API;
- runcommand: SSM Run Command runs the real documents on simulated nodes (local/nodesim);
- serve: one process serving all of it on a loopback port.
"""
