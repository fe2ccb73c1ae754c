-- wrk script: each request carries the next token of a file, round-robin.
-- wrk ... -s bench/tokens.lua URL -- tokens.txt
local tokens = {}
local i = 0

function init(args)
  for line in io.lines(args[1]) do
    tokens[#tokens + 1] = line
  end
end

function request()
  i = i % #tokens + 1
  return wrk.format("GET", "/", { ["Authorization"] = "Bearer " .. tokens[i] })
end
