// The signed-in person and what their roles allow: `read` (administrator, auditor),
// `change` (administrator), `queue` (administrator, clerk: the registration queue and
// enrolment at the service centre).

import { createContext } from 'preact';
import { useContext } from 'preact/hooks';

export const SessionContext = createContext(null);

export const useSession = () => useContext(SessionContext);
