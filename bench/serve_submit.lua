-- wrk script: durable survey submissions through the API, each with its own
-- Idempotency-Key. Environment: CX_TOKEN (a submit token), CX_RUN (unique per run).
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local token = os.getenv("CX_TOKEN") or ""
local run = os.getenv("CX_RUN") or "run"
local counter = 0
local headers = {
  ["Content-Type"] = "application/json",
  ["Authorization"] = "Bearer " .. token,
}

request = function()
  counter = counter + 1
  headers["Idempotency-Key"] = run .. "-" .. tostring(tid) .. "-" .. counter
  local body = string.format(
    '{"answers":{"nps":%d,"csat":%d,"ces":%d,"product_quality":%d,"comment":"delivery was on time"},"metadata":{"region":"华东","product_line":"云服务"}}',
    counter % 11, counter % 5 + 1, counter % 7 + 1, counter % 5 + 1)
  return wrk.format("POST", "/api/v1/surveys/relationship-2026/responses", headers, body)
end
