# Shell functions shared by the scripts that start throwaway servers (postgres.sh, nats.sh).

# A free TCP port on 127.0.0.1: ask the kernel via python3, else probe a random range.
free_port() {
  if python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null; then return 0; fi
  local p start=$((20000 + RANDOM % 20000))
  for ((p = start; p < start + 200; p++)); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}
