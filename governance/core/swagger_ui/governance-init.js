// Starts Swagger UI on the service's own OpenAPI document. A file rather than an inline
// script, so that a strict Content-Security-Policy (script-src 'self') allows it.
(function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    // The default sends the document's address to an outside validator for a badge.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
})();
