-- wrk script: each request carries the next line of a file in one header, round-robin.
-- wrk ... -s bench/rotate.lua URL -- FILE HEADER [PREFIX] [NAME=VALUE]
--   tokens:  -- tokens.txt Authorization "Bearer "
--   cookies: -- cookies.txt Cookie "" Accept=application/json
local values = {}
local header, prefix
local extra = {}
local i = 0

function init(args)
  for line in io.lines(args[1]) do
    values[#values + 1] = line
  end
  header = args[2]
  prefix = args[3] or ""
  if args[4] then
    local name, value = args[4]:match("^([^=]+)=(.*)$")
    extra[name] = value
  end
end

function request()
  i = i % #values + 1
  local headers = { [header] = prefix .. values[i] }
  for name, value in pairs(extra) do
    headers[name] = value
  end
  return wrk.format("GET", "/", headers)
end
