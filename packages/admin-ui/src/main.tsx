import { createRoot } from 'react-dom/client';
import { App } from './App.js';
import './styles.css';

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root');
// No StrictMode: its double effects would close and reopen the admin socket on every mount in development.
createRoot(root).render(<App />);
