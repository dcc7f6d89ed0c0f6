/**
 * The Sluice console: a React application on react-bootstrap (plain CSS files and components
 * that inject no <style> element, so the page's policy needs no 'unsafe-inline'), talking to
 * Sluice only through the typed SDK. Served at /console by ../serve.ts, built by ../build.ts.
 */
import 'bootstrap/dist/css/bootstrap.min.css';
import './console.css';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter, Navigate, Route, Routes } from 'react-router';
import { SessionProvider } from './session.js';
import { Shell } from './shell.js';
import { DatasetDetail } from './views/dataset-detail.js';
import { Datasets } from './views/datasets.js';
// Models, endpoints, catalog, playground (issue 21).
import { Catalog } from './views/endpoints/catalog.js';
import { Endpoints } from './views/endpoints/endpoints.js';
import { Models } from './views/endpoints/models.js';
import { Playground } from './views/endpoints/playground.js';
// Governance (policies and the decision log, API keys, members, tenant settings).
import { AcceptInvitation } from './views/accept-invitation.js';
import { Account, AccountDeleted } from './views/account.js';
import { ApiKeys } from './views/govern/api-keys.js';
import { Members } from './views/govern/members.js';
import { Policies } from './views/govern/policies.js';
import { TenantSettings } from './views/govern/tenant-settings.js';
import { NotFound } from './views/not-found.js';
import { SignIn } from './views/sign-in.js';
import { SignUp } from './views/sign-up.js';
import { SwitchTenant } from './views/switch-tenant.js';
import { Audit } from './views/usage/audit.js';
import { Usage } from './views/usage/usage.js';

const root = document.getElementById('root');
if (!root) throw new Error('console: the page has no #root');

createRoot(root).render(
  <StrictMode>
    <SessionProvider>
      <BrowserRouter basename="/console">
        <Routes>
          <Route path="sign-in" element={<SignIn />} />
          <Route path="sign-up" element={<SignUp />} />
          {/* Governance: an invitation's link leads here, signed in or not. */}
          <Route path="accept-invitation" element={<AcceptInvitation />} />
          {/* Outside the signed-in frame: the account it belonged to is gone. */}
          <Route path="account-deleted" element={<AccountDeleted />} />
          <Route element={<Shell />}>
            <Route index element={<Navigate to="/datasets" replace />} />
            <Route path="datasets" element={<Datasets />} />
            <Route path="datasets/:slug" element={<DatasetDetail />} />
            {/* Models, endpoints, catalog, playground (issue 21). */}
            <Route path="models" element={<Models />} />
            <Route path="endpoints" element={<Endpoints />} />
            <Route path="catalog" element={<Catalog />} />
            <Route path="playground" element={<Playground />} />
            <Route path="switch-tenant" element={<SwitchTenant />} />
            <Route path="account" element={<Account />} />
            {/* console-usage: usage charts and the audit trail. */}
            <Route path="usage" element={<Usage />} />
            <Route path="audit" element={<Audit />} />
            {/* Governance: policies and the decision log, API keys, members, tenant settings. */}
            <Route path="policies" element={<Policies />} />
            <Route path="api-keys" element={<ApiKeys />} />
            <Route path="members" element={<Members />} />
            <Route path="tenant-settings" element={<TenantSettings />} />
            <Route path="*" element={<NotFound />} />
          </Route>
        </Routes>
      </BrowserRouter>
    </SessionProvider>
  </StrictMode>,
);
