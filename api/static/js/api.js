// Calls to the advisory service.  URLs are relative to the page, so the client also works when
// the service is mounted under a path prefix behind a proxy.

/** An HTTP error answer: `status` and the service's `detail` as one readable line. */
export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
  }
}

/** The service's error body as one line: 422 details become "field.path: reason; ...". */
export function describeError(body, fallback) {
  const detail = body?.detail;
  if (Array.isArray(detail)) {
    return detail
      .map((d) => {
        const loc = (d.loc || []).filter((p) => p !== "body").join(".");
        return loc ? `${loc}: ${d.msg}` : d.msg;
      })
      .join("; ");
  }
  if (typeof detail === "string") return detail;
  return fallback;
}

async function request(path, init) {
  const resp = await fetch(path, init);
  let body = null;
  const text = await resp.text();
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!resp.ok) throw new ApiError(resp.status, describeError(body, text || resp.statusText));
  return body;
}

export function getNetwork() {
  return request("v1/network");
}

export function getHealth() {
  return request("healthz");
}

/** The green windows of an intersection's signal groups over [start, start + horizon_s). */
export function getWindows(intersectionId, start, horizonS) {
  const q = new URLSearchParams({ start, horizon_s: String(horizonS) });
  return request(`v1/intersections/${encodeURIComponent(intersectionId)}/windows?${q}`);
}

/** POST /v1/advisory; resolves to the advisory, rejects with ApiError (422, 413, ...). */
export function postAdvisory(body) {
  return request("v1/advisory", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** The request fields the service's schema documents, name → JSON schema (to send optional
 * fields only when this server version accepts them: unknown fields are answered 422). */
export async function advisoryFields() {
  try {
    const spec = await request("openapi.json");
    return spec?.components?.schemas?.AdvisoryRequest?.properties || {};
  } catch {
    return {};
  }
}
