/**
 * The product from the terminal, second half: members and invitations, API keys by name or
 * prefix, the audit tail as a table with readable actors, deleting a dataset only when
 * confirmed, and --help for every command. Each command is `node bin/sluice.js …` in a child
 * process against the real server, with its own config directory; --json output is parsed.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliUser, expectFailure } from '../support/cli.js';
import { must } from '../support/endpoints.js';
import { addMember, signUp, uniqueEmail, type SignedUp } from '../support/identity.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let owner: SignedUp;
const { home, sluice, json, logIn } = cliUser('cli-people');

const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

beforeAll(async () => {
  server = await startTestServer();
  owner = await signUp(server);
  await logIn(server.url, owner);
});
afterAll(async () => {
  await server?.close();
});

describe('sluice: people, keys, audit and deleting from the terminal', { timeout: 300_000 }, () => {
  it('invites, lists and revokes invitations; changes a role; removes a member only when confirmed', async () => {
    const invitee = uniqueEmail('invitee');
    const invited = await sluice(['members', 'invite', invitee, '--role', 'viewer']);
    expect(invited.code).toBe(0);
    expect(invited.stderr).toMatch(new RegExp(`^Invited ${escaped(invitee)} as VIEWER, until \\S+\\. The token, shown once:\n$`));
    expect(invited.stdout.trim()).toMatch(/^\S{20,}$/);
    expect((await json(['invitations', 'list'])).map((invitation: { email: string; role: string }) => [invitation.email, invitation.role])).toEqual([[invitee, 'VIEWER']]);
    expect((await sluice(['members', 'list'])).stdout).toMatch(new RegExp(`^EMAIL\\s+ROLE\\s+STATE\\s+SINCE\n${escaped(owner.email)}\\s+OWNER\\s+member\\s+.*\n${escaped(invitee)}\\s+VIEWER\\s+invited, expires `));
    expect((await sluice(['invitations', 'revoke', invitee])).stdout).toBe(`Revoked the invitation of ${invitee}\n`);
    expectFailure(await sluice(['invitations', 'revoke', invitee]), 1, /no open invitation/);
    expectFailure(await sluice(['members', 'invite', invitee, '--role', 'boss']), 2, /the role must be one of owner, admin, member, viewer/);

    const member = await addMember(server, owner.accessToken, 'VIEWER');
    expect(await json(['members', 'role', member.email, 'admin'])).toMatchObject({ role: 'ADMIN', user: { email: member.email } });
    expectFailure(await sluice(['members', 'remove', member.email]), 2, /pass --yes to confirm/);
    expect((await json(['members', 'list'])).members.map((row: { user: { email: string } }) => row.user.email)).toContain(member.email);
    expect((await sluice(['members', 'remove', member.email, '--yes'])).stdout).toBe(`Removed ${member.email}\n`);
    expect((await json(['members', 'list'])).members.map((row: { user: { email: string } }) => row.user.email)).toEqual([owner.email]);
    expectFailure(await sluice(['members', 'role', 'nobody@example.com', 'admin']), 1, /no member "nobody@example.com"/);
  });

  it('lists the members for a viewer too, without the invitations only admins may read', async () => {
    const viewer = await addMember(server, owner.accessToken, 'VIEWER');
    const theirs = cliUser('cli-viewer');
    await theirs.logIn(server.url, viewer);
    const listed = await theirs.json(['members', 'list']);
    // A person of any role reads colleagues' emails (memberEmail:read); invitations are MEMBER_MANAGE.
    expect(listed.invitations).toEqual([]);
    expect(listed.members.map((member: { user: { email: string } }) => member.user.email)).toEqual(expect.arrayContaining([owner.email, viewer.email]));
    expect((await theirs.sluice(['members', 'list'])).stdout).toMatch(new RegExp(`^EMAIL\\s+ROLE\\s+STATE\\s+SINCE\n(.*\n)*${escaped(viewer.email)}\\s+VIEWER\\s+member\\s`));
  });

  it('lists and revokes invitations past the first 100', async () => {
    // A tenant of its own, so the other tests' invitations do not count.
    const crowded = await signUp(server, { tenantName: 'Crowded Quay' });
    const other = cliUser('cli-invitations');
    await other.logIn(server.url, crowded);
    const emails = Array.from({ length: 120 }, (_, index) => uniqueEmail(`guest-${String(index).padStart(3, '0')}`));
    // 15 aliased invitations a request: 8 requests rather than 120.
    for (let start = 0; start < emails.length; start += 15) {
      const batch = emails.slice(start, start + 15);
      await must(server, crowded.accessToken, `mutation { ${batch.map((email, index) => `i${index}: inviteMember(email: "${email}", role: VIEWER) { invitation { id } }`).join('\n')} }`);
    }
    const listed: { email: string }[] = await other.json(['invitations', 'list']);
    expect(listed.map((invitation) => invitation.email).sort()).toEqual([...emails].sort());
    expect((await other.json(['members', 'list'])).invitations).toHaveLength(120);
    // Whichever page the last one is on, revoke finds it.
    expect((await other.sluice(['invitations', 'revoke', emails[119]!])).stdout).toBe(`Revoked the invitation of ${emails[119]}\n`);
    expect((await other.json(['invitations', 'list'])).map((invitation: { email: string }) => invitation.email)).not.toContain(emails[119]);
  });

  it('revokes keys by prefix or name, refuses a name two keys share, and the audit tail names actors', async () => {
    const deploy = await sluice(['keys', 'create', '--name', 'deploy', '--scopes', 'read']);
    const secret = deploy.stdout.trim();
    // The key's own request, to be named in the audit tail.
    expect((await json(['whoami'], { SLUICE_API_KEY: secret })).kind).toBe('API_KEY');
    const keys = await json(['keys', 'list']);
    const key = keys.find((candidate: { name: string }) => candidate.name === 'deploy');

    const tail = await sluice(['audit', 'tail', '-n', '30']);
    expect(tail.code).toBe(0);
    const [header, ...lines] = tail.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^TIME {2,}ACTION {2,}OUTCOME {2,}ACTOR {2,}REQUEST$/);
    // Aligned: each column of every line starts where its heading does, after a gap.
    const starts = ['ACTION', 'OUTCOME', 'ACTOR', 'REQUEST'].map((heading) => header!.indexOf(heading));
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) expect(starts.map((start) => line.slice(start - 2, start + 1))).toEqual(starts.map(() => expect.stringMatching(/^ {2}\S$/)));
    expect(lines.some((line) => line.includes(`key deploy (${key.prefix}…)`))).toBe(true);
    expect(lines.some((line) => line.includes(owner.email))).toBe(true);
    expect(tail.stdout).not.toMatch(/apikey:[0-9a-f-]{36}/i);
    const events = (await sluice(['audit', 'tail', '-n', '30', '--json'])).stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(events.map((event) => event.actor)).toContain(`key deploy (${key.prefix}…)`);

    expect(await json(['keys', 'revoke', `${key.prefix}…`])).toMatchObject({ id: key.id, name: 'deploy', revokedAt: expect.any(String) });
    expectFailure(await sluice(['keys', 'revoke', 'deploy']), 1, /no active key "deploy"/);
    await sluice(['keys', 'create', '--name', 'twin']);
    await sluice(['keys', 'create', '--name', 'twin']);
    expectFailure(await sluice(['keys', 'revoke', 'twin']), 2, /"twin" fits 2 active keys .*: give the id/);
    await sluice(['keys', 'create', '--name', 'ci']);
    expect((await sluice(['keys', 'revoke', 'ci'])).stdout).toMatch(/^Revoked API key ci \(/);
  });

  it('deletes a document, then the dataset, only with --yes when not at a terminal', async () => {
    expect((await sluice(['datasets', 'create', 'scratch'])).code).toBe(0);
    const folder = mkdtempSync(join(home, 'scratch-'));
    writeFileSync(join(folder, 'weirs.txt'), 'A weir holds the river back and keeps the level for boats.\n');
    writeFileSync(join(folder, 'locks.md'), '# Locks\n\nThe lock keeper opens the sluice gates at dawn.\n');
    expect((await sluice(['ingest', 'scratch', folder])).code).toBe(0);

    expectFailure(await sluice(['documents', 'delete', 'scratch', 'weirs.txt']), 2, /this deletes document weirs\.txt with its 1 chunks for good: pass --yes/);
    expectFailure(await sluice(['documents', 'delete', 'scratch', 'nothing.txt', '--yes']), 1, /no document "nothing\.txt" in scratch/);
    expect((await sluice(['documents', 'delete', 'scratch', 'weirs.txt', '--yes'])).stdout).toBe('Deleted weirs.txt (1 chunks) from scratch\n');
    // By title, with --json.
    expect(await json(['documents', 'list', 'scratch'])).toEqual([expect.objectContaining({ title: 'Locks', sourceKey: 'locks.md' })]);
    expect(await json(['documents', 'delete', 'scratch', 'Locks', '--yes'])).toMatchObject({ sourceKey: 'locks.md', chunkCount: 1, deleted: true });
    expect(await json(['datasets', 'list'])).toEqual([expect.objectContaining({ slug: 'scratch', documentCount: 0, chunkCount: 0 })]);

    expectFailure(await sluice(['datasets', 'delete', 'scratch']), 2, /^sluice datasets delete: this deletes dataset scratch with its 0 documents for good: pass --yes to confirm\n$/);
    expect((await json(['datasets', 'list'])).map((dataset: { slug: string }) => dataset.slug)).toEqual(['scratch']);
    expect(await json(['datasets', 'delete', 'scratch', '--yes'])).toMatchObject({ slug: 'scratch', deleted: true });
    expect(await json(['datasets', 'list'])).toEqual([]);
    expectFailure(await sluice(['datasets', 'delete', 'scratch', '--yes']), 1, /no dataset "scratch"/);
  });

  it('every command answers --help, and completion knows the new ones', async () => {
    const help = await sluice(['--help']);
    const names = [...help.stdout.matchAll(/^ {2}([a-z]+(?: [a-z]+)?) {2,}/gm)].map((match) => match[1]!).filter((name) => !['serve', 'worker', 'migrate', 'retention'].includes(name));
    expect(names).toEqual(expect.arrayContaining(['init', 'endpoints create', 'models list', 'policies edit', 'decisions', 'usage', 'members invite', 'invitations revoke', 'documents list', 'documents delete', 'datasets delete', 'catalog']));
    for (let start = 0; start < names.length; start += 4) {
      const runs = await Promise.all(names.slice(start, start + 4).map((name) => sluice([...name.split(' '), '--help'])));
      runs.forEach((run, index) => expect({ name: names[start + index], code: run.code, usage: run.stdout.split('\n')[0] }).toEqual({ name: names[start + index], code: 0, usage: expect.stringMatching(new RegExp(`^Usage: sluice ${names[start + index]}\\b`)) }));
    }
    const completion = await sluice(['completion', 'bash']);
    for (const word of ['decisions', 'invitations', 'policies', 'json-text-field']) expect(completion.stdout).toContain(word);
  });
});
