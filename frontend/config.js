// Deployment settings. apiBase "" = same origin as this page (nginx serves both the app and
// /predictions/). Point it at TorchServe (with CORS enabled) to run the app from elsewhere;
// `?api=http://host:port` in the page URL overrides it for one visit.
window.STYLE_CONFIG = { apiBase: "" };
