// The login screen: PatternFly's login layout, its title the page's one <h1>.
import { useState } from 'react';
import {
  Login, LoginFooter, LoginForm, LoginHeader, LoginMainBody, LoginMainHeader, Title,
} from '@patternfly/react-core';
import { api } from '../api';
import { loadRole } from '../role';
import { errorText } from '../util';

export function LoginPage({ onLoggedIn }: { onLoggedIn: () => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (ev: React.MouseEvent<HTMLButtonElement, MouseEvent>) => {
    ev.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.login(username.trim(), password);
      // The role first, so the console does not show its actions disabled for a moment.
      await loadRole();
      onLoggedIn();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Login
      header={<LoginHeader headerBrand={<span className="georep-login-brand">georep</span>} />}
      footer={<LoginFooter><p>georep</p></LoginFooter>}
    >
      <LoginMainHeader>
        <Title headingLevel="h1" size="3xl">Log in to georep</Title>
        <p className="pf-v5-c-login__main-header-desc">
          Geo-replication manager. The first administrator&apos;s password is printed once by georep serve.
        </p>
      </LoginMainHeader>
      <LoginMainBody>
        <LoginForm
        showHelperText={!!error}
        helperText={error ?? undefined}
        usernameLabel="Username"
        usernameValue={username}
        onChangeUsername={(_e, v) => setUsername(v)}
        isValidUsername={!error}
        passwordLabel="Password"
        passwordValue={password}
        onChangePassword={(_e, v) => setPassword(v)}
        isValidPassword={!error}
        loginButtonLabel={busy ? 'Logging in…' : 'Log in'}
        isLoginButtonDisabled={busy || !username || !password}
        onLoginButtonClick={submit}
        />
      </LoginMainBody>
    </Login>
  );
}
