// Loads the collector from the upload API (?api=<origin>) as a custom CCP
// would, and hands the test its module and a start function.
const api = new URLSearchParams(location.search).get('api');
const collector = await import(`${api}/collector.js`);
window.collectorModule = collector;
window.uploads = [];
window.startTestCollector = (options) =>
  collector.startCollector({
    connect: window.connect,
    apiBase: api,
    getToken: async () => window.testToken,
    onUpload: (key) => window.uploads.push(key),
    ...options,
  });
document.body.dataset.ready = 'true';
