#!/bin/sh
# Renders one of this folder's templates: each placeholder in double braces is replaced by the environment
# variable of that name, and a variable left unset is an error (no half-rendered configuration reaches a node).
#   SCOPE=mordomo NODE_NAME=pg1 ... deploy/patroni/render.sh deploy/patroni/patroni.yml.template > /etc/patroni/config.yml
set -eu
template=$1
missing=""
for name in $(grep -o '{{[A-Z0-9_]*}}' "$template" | tr -d '{}' | sort -u); do
  eval "value=\${$name-__unset__}"
  [ "$value" = "__unset__" ] && missing="$missing $name"
done
if [ -n "$missing" ]; then
  echo "render.sh: set$missing" >&2
  exit 1
fi
awk '{
  while (match($0, /\{\{[A-Z0-9_]+\}\}/)) {
    name = substr($0, RSTART + 2, RLENGTH - 4)
    $0 = substr($0, 1, RSTART - 1) ENVIRON[name] substr($0, RSTART + RLENGTH)
  }
  print
}' "$template"
