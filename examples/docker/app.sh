#!/bin/sh
# Runs inside the built image.
cat /greeting
echo "workspace: $(pwd)"
ls /app
