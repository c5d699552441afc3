/**
 * /docs: Swagger UI over /openapi.json, from the swagger-ui-dist package that the
 * build copies into the static assets (public/vendor), so the reference works
 * with no network beyond this Worker.
 */
export function docsPage(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>longscribe API reference</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/vendor/swagger-ui/swagger-ui.css">
<style>body{margin:0}.topbar{display:none}</style>
</head>
<body>
<div id="ui"></div>
<script src="/vendor/swagger-ui/swagger-ui-bundle.js"></script>
<script>
SwaggerUIBundle({ url: "/openapi.json", dom_id: "#ui", deepLinking: true, persistAuthorization: true, tryItOutEnabled: false });
</script>
</body>
</html>
`;
}
