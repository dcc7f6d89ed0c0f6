/**
 * The tenant's settings: name, API key lifetime, request rate, IP allow-list, audit and
 * retention. Only changed fields are sent; each change is an audit event. What the caller may
 * change follows its permissions (the rate limits POLICY_MANAGE, the rest TENANT_MANAGE); one
 * who may change none reads them, without a Save button.
 */
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import Button from 'react-bootstrap/Button';
import Form from 'react-bootstrap/Form';
import Spinner from 'react-bootstrap/Spinner';
import { TenantSettingsDocument, UpdateTenantSettingsDocument, type TenantSettingsFieldsFragment, type UpdateTenantSettingsInput } from '../../../../sdk/index.js';
import { ErrorAlert, useFailure } from '../../error-alert.js';
import { formatWhen } from '../../format.js';
import { mayReadConfiguration } from '../../may.js';
import { useSession } from '../../session.js';

type Settings = TenantSettingsFieldsFragment;

interface NumberSetting {
  key: 'apiKeyDefaultTtlDays' | 'rateLimitPerSecond' | 'rateLimitBurst' | 'auditRetentionDays' | 'usageRetentionDays';
  label: string;
  help: string;
  /** Empty means "the server's default" (sent as null). */
  nullable?: boolean;
  /** TENANT_MANAGE's (an owner's); the others are POLICY_MANAGE's. */
  ownerOnly: boolean;
}

const NUMBERS: NumberSetting[] = [
  { key: 'apiKeyDefaultTtlDays', label: 'API key lifetime (days)', help: 'Days until a new API key expires, unless its creator says otherwise (1 to 3650).', ownerOnly: true },
  { key: 'rateLimitPerSecond', label: 'Requests per second, per caller', help: 'Each user or key of this tenant may make this many requests a second (1 to 1000). Empty: the server default.', nullable: true, ownerOnly: false },
  { key: 'rateLimitBurst', label: 'Requests at once, per caller', help: 'How many may arrive together before the rate applies (1 to 10000). Empty: the server default.', nullable: true, ownerOnly: false },
  { key: 'auditRetentionDays', label: 'Keep audit events (days)', help: 'Older audit events are deleted (1 to 3650).', ownerOnly: true },
  { key: 'usageRetentionDays', label: 'Keep usage and decisions (days)', help: 'Older usage records and policy decisions are deleted (1 to 3650).', ownerOnly: true },
];

export function TenantSettings() {
  const { call, may } = useSession();
  const [settings, setSettings] = useState<Settings | undefined>();
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const [failure, fail, dismiss] = useFailure();
  const owner = may('TENANT_MANAGE');
  const limits = may('POLICY_MANAGE');
  // The IP allow-list is for admins to read (CONFIG_READ); below ADMIN the page leaves it out.
  const withConfig = mayReadConfiguration(may);

  const load = useCallback(async () => {
    try {
      const { viewer } = await call((client) => client.query(TenantSettingsDocument, { withConfig }));
      setSettings(viewer.tenant ?? undefined);
    } catch (error) {
      fail(error);
    }
  }, [call, fail, withConfig]);
  useEffect(() => void load(), [load]);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (!settings) return;
    const form = new FormData(event.currentTarget);
    const input: UpdateTenantSettingsInput = {};
    // A disabled field (not the caller's to change) is not in the form: it is left out.
    const name = form.get('name');
    if (name !== null && String(name).trim() !== settings.name) input.name = String(name).trim();
    for (const setting of NUMBERS) {
      const entry = form.get(setting.key);
      if (entry === null) continue;
      const raw = String(entry).trim();
      const value = raw === '' && setting.nullable ? null : Number(raw);
      if (value !== settings[setting.key]) input[setting.key] = value;
    }
    if (owner) {
      const storeEmails = form.get('auditStoreEmails') === 'on';
      if (storeEmails !== settings.auditStoreEmails) input.auditStoreEmails = storeEmails;
    }
    const allowListText = form.get('ipAllowList');
    if (allowListText !== null) {
      const allowList = String(allowListText)
        .split('\n')
        .map((line) => line.trim())
        .filter(Boolean);
      if (allowList.join('\n') !== (settings.ipAllowList ?? []).join('\n')) input.ipAllowList = allowList;
    }
    setSaved(false);
    if (Object.keys(input).length === 0) {
      setSaved(true);
      return;
    }
    setBusy(true);
    try {
      const { updateTenantSettings } = await call((client) => client.mutate(UpdateTenantSettingsDocument, { input }));
      setSettings(updateTenantSettings);
      setSaved(true);
    } catch (error) {
      fail(error);
    } finally {
      setBusy(false);
    }
  };

  if (!settings)
    return (
      <>
        <h1 className="h3">Tenant settings</h1>
        <ErrorAlert error={failure} onDismiss={dismiss} />
        {failure === undefined ? <Spinner animation="border" role="status" size="sm"><span className="visually-hidden">Loading settings</span></Spinner> : null}
      </>
    );

  const ownerNote = owner || !limits ? '' : ' Only an owner may change it.';
  return (
    <>
      <h1 className="h3">Tenant settings</h1>
      <p className="text-body-secondary">
        Tenant <code>{settings.slug}</code>, created {formatWhen(settings.createdAt)}. Every change is recorded in the audit trail with its before and after.
      </p>
      <ErrorAlert error={failure} onDismiss={dismiss} title="Could not save the settings" />
      {/* key: the fields start from the saved values again after each save. */}
      <Form onSubmit={submit} noValidate className="narrow" id="tenant-settings-form" key={JSON.stringify(settings)}>
        <Form.Group className="mb-3" controlId="tenant-name">
          <Form.Label>Name</Form.Label>
          <Form.Control name="name" defaultValue={settings.name} disabled={!owner} aria-describedby="tenant-name-help" />
          <Form.Text id="tenant-name-help">Shown to members and, for listed endpoints, in the catalog.{ownerNote}</Form.Text>
        </Form.Group>
        {NUMBERS.map((setting) => (
          <Form.Group className="mb-3" controlId={`tenant-${setting.key}`} key={setting.key}>
            <Form.Label>{setting.label}</Form.Label>
            <Form.Control
              name={setting.key}
              type="number"
              min={1}
              defaultValue={settings[setting.key] ?? ''}
              disabled={setting.ownerOnly ? !owner : !limits}
              placeholder={setting.nullable ? 'server default' : undefined}
              aria-describedby={`tenant-${setting.key}-help`}
            />
            <Form.Text id={`tenant-${setting.key}-help`}>
              {setting.help}
              {setting.ownerOnly ? ownerNote : ''}
            </Form.Text>
          </Form.Group>
        ))}
        {withConfig ? (
          <Form.Group className="mb-3" controlId="tenant-ipAllowList">
            <Form.Label>IP allow-list</Form.Label>
            <Form.Control as="textarea" rows={3} name="ipAllowList" className="font-monospace" defaultValue={(settings.ipAllowList ?? []).join('\n')} disabled={!owner} aria-describedby="tenant-ipAllowList-help" />
            <Form.Text id="tenant-ipAllowList-help">
              One CIDR range a line (203.0.113.0/24, 2001:db8::/32; a bare address is one host): this tenant's credentials work only from there. Empty: from anywhere. A list
              without the address you are using now is refused, so you cannot lock yourself out.{ownerNote}
            </Form.Text>
          </Form.Group>
        ) : null}
        <Form.Check
          className="mb-3"
          type="switch"
          id="tenant-auditStoreEmails"
          name="auditStoreEmails"
          defaultChecked={settings.auditStoreEmails}
          disabled={!owner}
          label={`Audit events keep the actor's email (off: a keyed digest of it instead).${ownerNote}`}
        />
        {owner || limits ? (
          <div className="d-flex align-items-center gap-3">
            <Button type="submit" disabled={busy}>
              Save settings
            </Button>
            <span role="status" className="text-success">
              {saved ? 'Saved.' : ''}
            </span>
          </div>
        ) : (
          <p className="text-body-secondary" id="tenant-settings-read-only">
            Your role reads these settings; its owners and admins change them.
          </p>
        )}
      </Form>
    </>
  );
}
