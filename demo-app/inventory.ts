import express, { type Express } from 'express';
import { oauthErrorHandler, requireAuth, requireScopes } from '../lib/index.js';
import { INVENTORY_SCOPE } from './config.js';
import { operatorLogger, requestLog } from './request-log.js';
import { guardKeyOptions, type InventorySettings } from './settings.js';

const ITEMS = [
  { sku: 'widget', name: 'Widget', inStock: 1200 },
  { sku: 'gadget', name: 'Gadget', inStock: 37 },
  { sku: 'gizmo', name: 'Gizmo', inStock: 0 },
];

/**
 * The downstream service. It trusts only machine tokens: its own `requireAuth` demands the
 * inventory audience, which the IdP puts only in client_credentials tokens for this service, so a
 * user's access token for the API (audience https://api.example.test) is rejected with 401 even
 * though the same IdP signed it. The scope check then limits which services may read.
 */
export function createInventory(settings: InventorySettings): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(requestLog('inventory', settings.log));
  const guard = requireAuth({
    issuer: settings.idp.issuer,
    audience: settings.audience,
    realm: 'inventory',
    ...guardKeyOptions(settings.idp),
    logger: operatorLogger('inventory', 'guard', settings.log),
  });

  app.get('/inventory', guard, requireScopes(INVENTORY_SCOPE), (req, res) => {
    const { client_id, sub, act } = req.auth!.payload as { client_id?: string; sub?: string; act?: { sub?: string } };
    // A token obtained by token exchange names the user in `sub` and the calling API in `act`.
    res.set('Cache-Control', 'no-store').json({ items: ITEMS, servedTo: act ? sub : (client_id ?? sub), ...(act ? { act } : {}) });
  });
  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  app.use((_req, res) => {
    res.status(404).json({ error: 'not_found', error_description: 'no such route' });
  });
  app.use(oauthErrorHandler({ onUnexpectedError: (err) => settings.log(`[inventory] unexpected error: ${(err as Error)?.message ?? String(err)}`) }));
  return app;
}
