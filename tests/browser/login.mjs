// login.mjs: a real browser (Debian's Chromium, driven by playwright-core) on zt's login pages,
// for tests/integration/browser-login.sh. Everything comes from the environment:
//
//   ZT_CHROMIUM     the browser (/usr/bin/chromium)
//   ZT_ORIGIN       the edge's issuer URL, https://edge.test:PORT
//   ZT_RESOLVE      "edge.test 127.0.0.1": how the browser reaches it
//   ZT_SPKI         base64 SHA-256 of the edge certificate's public key (the only one trusted
//                   beyond the system's CAs)
//   ZT_VERIFY_URL   verification_uri_complete printed by `zt login`
//   ZT_EMAIL, ZT_PASSWORD                   a user without TOTP (approves the device code)
//   ZT_TOTP_EMAIL, ZT_TOTP_PASSWORD, ZT_TOTP_SECRET   a user enrolled in TOTP (base32 secret)
//   ZT_SHOTS        a directory for screenshots
//
// Prints "ok: ..." per check and "not ok: ..." for a failure; exits 1 if anything failed.
import { createHmac } from 'node:crypto';
import { chromium } from 'playwright-core';

const env = (k) => {
	if (!process.env[k]) {
		console.log(`not ok: ${k} is not set`);
		process.exit(2);
	}
	return process.env[k];
};
const origin = env('ZT_ORIGIN');
let failed = 0;
const check = (cond, what) => {
	console.log(`${cond ? 'ok' : 'not ok'}: ${what}`);
	if (!cond)
		failed++;
};

// RFC 6238 with HMAC-SHA1, 6 digits, 30 s: the code an authenticator app would show.
function totp(base32, at = Date.now()) {
	const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
	let bits = '';
	for (const c of base32.replace(/=+$/, '').toUpperCase())
		bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
	const key = Buffer.alloc(Math.floor(bits.length / 8));
	for (let i = 0; i < key.length; i++)
		key[i] = parseInt(bits.slice(i * 8, i * 8 + 8), 2);
	const msg = Buffer.alloc(8);
	msg.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
	const h = createHmac('sha1', key).update(msg).digest();
	const o = h[h.length - 1] & 15;
	return ((h.readUInt32BE(o) & 0x7fffffff) % 1000000).toString().padStart(6, '0');
}

const browser = await chromium.launch({
	executablePath: env('ZT_CHROMIUM'),
	headless: true,
	args: [
		`--host-resolver-rules=MAP ${env('ZT_RESOLVE')}`,
		`--ignore-certificate-errors-spki-list=${env('ZT_SPKI')}`,
		'--no-sandbox',
	],
});
const shots = process.env.ZT_SHOTS;

async function signIn(page, email, password, code) {
	await page.getByLabel(/email/i).fill(email);
	await page.getByLabel(/password/i).fill(password);
	if (code !== undefined)
		await page.getByLabel(/code/i).fill(code);
	const [resp] = await Promise.all([
		page.waitForNavigation(),
		page.getByRole('button', { name: /sign in/i }).click(),
	]);
	return resp;
}

try {
	// A wrong password: 401, the form again, and no hint of which part was wrong.
	{
		const ctx = await browser.newContext();
		const page = await ctx.newPage();
		const first = await page.goto(`${origin}/login`);
		check(first.status() === 200, `GET /login answers 200 (got ${first.status()})`);
		const h = first.headers();
		check(/default-src 'none'/.test(h['content-security-policy'] || ''),
		    'the login page sets a Content-Security-Policy');
		check(h['x-frame-options'] === 'DENY' && h['x-content-type-options'] === 'nosniff',
		    'the login page sets X-Frame-Options and X-Content-Type-Options');
		const resp = await signIn(page, env('ZT_EMAIL'), 'not-the-password');
		check(resp.status() === 401, `a wrong password is refused with 401 (got ${resp.status()})`);
		const text = await page.textContent('body');
		check(/wrong email, password or code/i.test(text),
		    'the page says "wrong email, password or code"');
		check((await ctx.cookies()).every((c) => c.name !== '__Host-zt_session'),
		    'no session cookie after a wrong password');
		if (shots)
			await page.screenshot({ path: `${shots}/wrong-password.png` });
		await ctx.close();
	}

	// TOTP: the right password with a wrong code is refused; with the right code it works.
	{
		const ctx = await browser.newContext();
		const page = await ctx.newPage();
		await page.goto(`${origin}/login`);
		const good = totp(env('ZT_TOTP_SECRET'));
		const bad = ((parseInt(good, 10) + 500000) % 1000000).toString().padStart(6, '0');
		let resp = await signIn(page, env('ZT_TOTP_EMAIL'), env('ZT_TOTP_PASSWORD'), bad);
		check(resp.status() === 401, `a wrong TOTP code is refused with 401 (got ${resp.status()})`);
		resp = await signIn(page, env('ZT_TOTP_EMAIL'), env('ZT_TOTP_PASSWORD'),
		    totp(env('ZT_TOTP_SECRET')));
		check(resp.status() === 200, `the right TOTP code signs in (got ${resp.status()})`);
		const cookie = (await ctx.cookies()).find((c) => c.name === '__Host-zt_session');
		check(cookie !== undefined && cookie.httpOnly && cookie.secure &&
		    cookie.sameSite === 'Lax' && cookie.path === '/',
		    'the session cookie is HttpOnly, Secure, SameSite=Lax, Path=/');
		check((await page.textContent('body')).includes(env('ZT_TOTP_EMAIL')),
		    'the home page names the signed-in user');
		await ctx.close();
	}

	// A form without its CSRF token is refused (the field removed before submitting).
	{
		const ctx = await browser.newContext({ bypassCSP: true });
		const page = await ctx.newPage();
		await page.goto(`${origin}/login`);
		await page.evaluate(() => document.querySelector('input[name=csrf]').remove());
		const resp = await signIn(page, env('ZT_EMAIL'), env('ZT_PASSWORD'));
		check(resp.status() === 403, `a sign-in without CSRF token is refused with 403 (got ${resp.status()})`);
		check((await ctx.cookies()).every((c) => c.name !== '__Host-zt_session'),
		    'no session cookie without a CSRF token');
		await ctx.close();
	}

	// The device flow: the URL zt login printed, sign in, approve.
	{
		const ctx = await browser.newContext();
		const page = await ctx.newPage();
		const verify = env('ZT_VERIFY_URL');
		const code = new URL(verify).searchParams.get('user_code');
		await page.goto(verify);
		check(new URL(page.url()).pathname === '/login',
		    `the verification URL sends a stranger to the login page (${page.url()})`);
		const resp = await signIn(page, env('ZT_EMAIL'), env('ZT_PASSWORD'));
		check(resp.status() === 200 && new URL(page.url()).pathname === '/device',
		    `after signing in the browser is back on /device (${page.url()}, ${resp.status()})`);
		check((await page.textContent('body')).includes(code),
		    `the device page shows the code ${code}`);
		if (shots)
			await page.screenshot({ path: `${shots}/device.png` });
		const [done] = await Promise.all([
			page.waitForNavigation(),
			page.getByRole('button', { name: /approve/i }).click(),
		]);
		check(done.status() === 200, `approving answers 200 (got ${done.status()})`);
		check(/approved/i.test(await page.textContent('body')), 'the page says the sign-in is approved');
		if (shots)
			await page.screenshot({ path: `${shots}/approved.png` });
		await ctx.close();
	}
} catch (e) {
	console.log(`not ok: ${e.message.split('\n')[0]}`);
	failed++;
} finally {
	await browser.close();
}
process.exit(failed ? 1 : 0);
