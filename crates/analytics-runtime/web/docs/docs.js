// The interactive API page: Swagger UI (vendored, no CDN) on this service's
// own /openapi.json. Written as a file, not an inline script, so the page
// keeps the strict Content-Security-Policy every page here has; violations
// are kept in window.cspViolations for the browser test to read.
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.cspViolations.push(`${e.violatedDirective}: ${e.blockedURI || "inline"}`);
});

window.addEventListener("DOMContentLoaded", () => {
  window.ui = globalThis.SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    // Examples (and "Try it out") ready without a click per operation.
    defaultModelRendering: "example",
    displayRequestDuration: true,
    // The public validator is another origin: never called.
    validatorUrl: null,
    onComplete: () => {
      document.documentElement.dataset.state = "ready";
    },
  });
});
