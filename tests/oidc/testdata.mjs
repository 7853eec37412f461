// testdata.mjs - the test user and acr values that provider.mjs and
// driver.mjs share (e2e.py knows them too).
export const USER = { login: 'erika', password: 'Servicekonto-Test-2026' };
export const ACR_EID = 'urn:kreisel:test:eid';
export const ACR_BASIC = 'urn:kreisel:test:basic';
